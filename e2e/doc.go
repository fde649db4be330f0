// Package e2e runs the built stack binary against a real Podman service, as a user would.
package e2e
