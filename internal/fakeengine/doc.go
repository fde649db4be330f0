// Package fakeengine is a stateful in-memory ops.Engine that behaves as Podman does through podmanapi, so use cases can be tested end to end without a Podman service.
package fakeengine
