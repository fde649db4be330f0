// Package stackgen generates large compose files for benchmarks and tests.
package stackgen
