// Package stack loads Compose and Kubernetes stack files into one normalized model.
package stack
