package stack

import (
	"encoding/json"
)

// MarshalJSON writes durations as Go duration strings ("30s"), so `stack
// config` output reads like the file the user wrote, not nanoseconds.
func (h HealthCheck) MarshalJSON() ([]byte, error) {
	type view struct {
		Test          []string `json:"test"`
		Interval      string   `json:"interval"`
		Timeout       string   `json:"timeout"`
		StartPeriod   string   `json:"startPeriod"`
		StartInterval string   `json:"startInterval,omitempty"`
		Retries       int      `json:"retries"`
	}
	v := view{Test: h.Test, Interval: h.Interval.String(), Timeout: h.Timeout.String(),
		StartPeriod: h.StartPeriod.String(), Retries: h.Retries}
	if h.StartInterval > 0 {
		v.StartInterval = h.StartInterval.String()
	}
	return json.Marshal(v)
}

// MarshalJSON writes the stop grace period as a duration string.
func (s Service) MarshalJSON() ([]byte, error) {
	type plain Service
	out := struct {
		plain
		StopGracePeriod string `json:"stopGracePeriod,omitempty"`
	}{plain: plain(s)}
	if s.StopGracePeriod != nil {
		out.StopGracePeriod = s.StopGracePeriod.String()
	}
	return json.Marshal(out)
}
