// Package planner groups services into pods, orders them by dependencies and turns desired plus observed state into an executable plan.
package planner
