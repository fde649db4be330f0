// Command stack runs compose-style multi-pod stacks on Podman.
package main
