// Package stack loads Compose and Kubernetes stack files into one normalized model.
//
// Load (load.go) finds the files and the environment, resolves the project
// name once for both formats, and hands the files (source.go: each parsed
// once) to a loader: loadCompose (compose.go) calls compose-go, with its
// logging captured (composelog.go) and its errors translated to file:line
// problems with a fix (composeerrors.go), then converts its project into
// the model (convert.go); loadKube (kube.go) reads Kubernetes Pod YAML.
// keys.go is the one table of service keys (carried, warned, exported),
// checks.go the consistency checks, model.go the model itself.
package stack
