// Package podmanapi is the Engine (see ops) over Podman's REST API: it observes projects, carries out plans and runs containers; it is the only package that imports the Podman bindings.
package podmanapi
