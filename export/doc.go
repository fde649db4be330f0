// Package export turns a stack, grouped as the planner groups it, into Kubernetes objects and Quadlet units.
package export
