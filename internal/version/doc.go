// Package version holds the build's version, stamped by the Makefile with -ldflags -X.
package version
