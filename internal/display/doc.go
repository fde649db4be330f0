// Package display renders the planner's progress events for people (tty, plain), programs (json) or nobody (quiet).
package display
