package stack

import "io"

// LoadOptions says what to load and how. The CLI fills it from flags, STACK_*
// variables and stack.config.yaml; tests fill it directly.
type LoadOptions struct {
	// Files are the stack files in merge order; "-" reads Stdin. Empty means
	// discovery in WorkingDir (DefaultFileNames).
	Files []string
	// WorkingDir is where discovery, .env and relative paths start; "" = the
	// directory of the first file, or the process's working directory.
	WorkingDir string
	// ProjectName overrides the name from the file or directory.
	ProjectName string
	// Environment selects <base>.<env>.yaml overrides and .env.<env>.
	Environment string
	// EnvFiles are --env-file values, in order (later wins).
	EnvFiles []string
	// Profiles are the active profiles; nil means COMPOSE_PROFILES from the
	// resolved environment. "*" enables all.
	Profiles []string
	// Services are the services named on the command line: their profiles
	// are enabled too, as docker compose does, so `stack up debug` runs a
	// service behind a profile without --profile.
	Services []string
	// Environ lists the process environment (KEY=VALUE); nil means
	// os.Environ. Tests pass their own so they never depend on the real one.
	Environ func() []string
	// Stdin is read for the file "-".
	Stdin io.Reader
	// KeepVars leaves ${VAR} placeholders uninterpolated (for `convert --keep-vars`).
	KeepVars bool
	// ValidatedCache is a directory that remembers which exact inputs
	// compose-go has validated, so that loading them again skips that
	// validation (see validated); "" validates every time. The CLI uses
	// ValidatedCacheDir.
	ValidatedCache string
	// OnProjectName, when set, is called with the project name as soon as
	// the loader knows it, before compose-go interprets the files (most of
	// a load's time), so a caller can start work that needs only the name.
	// It is a guess until Load returns: the loaded stack's Name decides.
	OnProjectName func(name string)
}

// DefaultFileNames are looked up, in order, when no -f is given.
var DefaultFileNames = []string{
	"stack.yaml", "stack.yml",
	"compose.yaml", "compose.yml",
	"docker-compose.yaml", "docker-compose.yml",
}
