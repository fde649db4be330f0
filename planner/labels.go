package planner

// Labels returns the labels of an object podstack makes for a project: the
// project's own and compose's (so Podman Desktop groups it), the
// environment when there is one, and the kind-specific pairs given as
// key, value, key, value... Every label podstack writes is written here.
func Labels(project, environment string, pairs ...string) map[string]string {
	n := 2 // sized exactly: up to 8 labels fit a map's smallest form
	if environment != "" {
		n++
	}
	for i := 1; i < len(pairs); i += 2 {
		if pairs[i] != "" {
			n++
		}
	}
	l := make(map[string]string, n)
	l[LabelProject], l[LabelComposeProject] = project, project
	if environment != "" {
		l[LabelEnvironment] = environment
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			l[pairs[i]] = pairs[i+1]
		}
	}
	return l
}
