package planner

import (
	"errors"
	"strings"
	"testing"
)

func TestClaimName(t *testing.T) {
	want := Labels("shop", "prod", LabelConfigHash, "h1")
	with := func(edit func(map[string]string)) map[string]string {
		l := Labels("shop", "prod", LabelConfigHash, "h1")
		edit(l)
		return l
	}
	same := with(func(map[string]string) {})
	for _, tc := range []struct {
		name string
		h    Holder
		want Claim
	}{
		{"late create", Holder{Kind: "container", State: "created", Labels: same}, ClaimAdopt},
		{"late create and start", Holder{Kind: "container", State: "running", Labels: same}, ClaimAdopt},
		{"late pod", Holder{Kind: "pod", State: "Created", Labels: same}, ClaimAdopt},
		{"exited", Holder{Kind: "container", State: "exited", Labels: same}, ClaimReplace},
		{"being removed", Holder{Kind: "container", State: "removing", Labels: same}, ClaimReplace},
		{"broken pod", Holder{Kind: "pod", State: "Error", Labels: same}, ClaimReplace},
		{"storage only", Holder{Kind: "container", State: StateStorage}, ClaimReplace},
		{"other hash", Holder{Kind: "container", State: "created", Labels: with(func(l map[string]string) { l[LabelConfigHash] = "h0" })}, ClaimReplace},
		{"other environment", Holder{Kind: "container", State: "created", Labels: with(func(l map[string]string) { l[LabelEnvironment] = "dev" })}, ClaimReplace},
		{"one-off", Holder{Kind: "container", State: "running", Labels: with(func(l map[string]string) { l[LabelOneOff] = "true" })}, ClaimReplace},
		{"no labels", Holder{Kind: "container", State: "created"}, ClaimRefuse},
		{"other project", Holder{Kind: "container", State: "created", Labels: with(func(l map[string]string) { l[LabelProject] = "blog" })}, ClaimRefuse},
		{"late secret", Holder{Kind: "secret", Labels: same}, ClaimAdopt},
		{"secret of other content", Holder{Kind: "secret", Labels: with(func(l map[string]string) { l[LabelConfigHash] = "h0" })}, ClaimReplace},
		{"foreign secret", Holder{Kind: "secret"}, ClaimRefuse},
		{"project's volume", Holder{Kind: "volume", Labels: Labels("shop", "")}, ClaimAdopt},
		{"foreign network", Holder{Kind: "network", Labels: map[string]string{"made.by": "hand"}}, ClaimRefuse},
		{"other project's pod", Holder{Kind: "pod", State: "Running", Labels: with(func(l map[string]string) { l[LabelProject] = "blog" })}, ClaimRefuse},
	} {
		if got := ClaimName(want, tc.h); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRefusedNameSaysWhoseAndTheFix(t *testing.T) {
	err := RefusedName(Holder{Kind: "container", ID: "0123456789abcdef", Name: "shop-web-1"})
	if !errors.Is(err, ErrNameHeld) {
		t.Errorf("%v is not ErrNameHeld", err)
	}
	for _, want := range []string{"shop-web-1", "container 0123456789ab ", "did not create", "podman rm shop-web-1", "-p"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	err = RefusedName(Holder{Kind: "pod", Name: "shop-web", Labels: Labels("blog", "")})
	for _, want := range []string{`of project "blog"`, "podman pod rm shop-web"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	err = RefusedName(Holder{Kind: "volume", Name: "shop_data"})
	for _, want := range []string{"volume", "podman volume rm shop_data"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}
