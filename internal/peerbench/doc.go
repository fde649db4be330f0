// Command peerbench measures stack side by side with its peers on one Podman
// service: the built stack binary, a bare REST client making the fewest
// libpod calls that do the same work (this program, run as its own
// process), and `podman kube play` of equivalent Pod YAML. Each row's tools
// run interleaved, round after round, so the machine's changing load falls
// on all of them alike; it prints medians and ratios, writes them as JSON
// and Markdown, and draws the linearity rows as an SVG plot. `make bench`
// runs it.
package main
