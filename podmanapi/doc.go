// Package podmanapi connects to Podman's REST API and carries out plans through it; it is the only package that imports the Podman bindings.
package podmanapi
