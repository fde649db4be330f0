// Package cluster deploys one environment of a stack to a Kubernetes namespace: it observes the project's objects by label, plans what to create, change and prune, and applies the plan with server-side apply.
package cluster
