// Package lock serialises the commands that change one project on one
// Podman service, across processes and users of this host, with an flock
// the kernel releases when its holder exits, however it exits.
package lock
