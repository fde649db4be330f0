// Package testcorpus finds the real-world stack files podstack's tests run
// over: docker/awesome-compose's files, which the repository carries (CC0),
// and podman-compose's integration fixtures, a peer's suite (GPL-2.0) that is
// read from where it lies and never copied into the repository.
package testcorpus
