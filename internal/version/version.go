package version

// Version and Commit are set at build time; "dev" marks a plain go build.
var (
	Version = "dev"
	Commit  = ""
)

// String is the version with the commit when known.
func String() string {
	if Commit == "" {
		return Version
	}
	return Version + " (" + Commit + ")"
}
