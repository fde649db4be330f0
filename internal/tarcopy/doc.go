// Package tarcopy packs host files into, and safely unpacks them from, the
// tar archives a container engine's copy API speaks, with docker cp's naming
// rules (the top entry kept, renamed or dropped).
package tarcopy
