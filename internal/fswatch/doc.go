// Package fswatch reports changes to files and whole directory trees on
// the host, for `stack watch`: fsnotify made recursive.
package fswatch
