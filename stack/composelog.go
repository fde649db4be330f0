package stack

import (
	"io"
	"sync"

	"github.com/sirupsen/logrus"
)

// logCapture collects what compose-go logs through logrus (obsolete
// `version`, unset variables) so it becomes warnings instead of noise.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCapture) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

var (
	logMu      sync.Mutex
	logTarget  *logCapture
	logHookSet sync.Once
)

type captureHook struct{}

func (captureHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.WarnLevel, logrus.ErrorLevel}
}

func (captureHook) Fire(e *logrus.Entry) error {
	logMu.Lock()
	t := logTarget
	logMu.Unlock()
	if t != nil {
		t.mu.Lock()
		t.msgs = append(t.msgs, e.Message)
		t.mu.Unlock()
	}
	return nil
}

// captureLogs routes compose-go's log output to c until the returned
// function is called. Loads are serialized while capturing.
func captureLogs(c *logCapture) func() {
	logHookSet.Do(func() {
		logrus.AddHook(captureHook{})
		logrus.SetOutput(io.Discard)
	})
	logMu.Lock()
	logTarget = c
	logMu.Unlock()
	return func() {
		logMu.Lock()
		if logTarget == c {
			logTarget = nil
		}
		logMu.Unlock()
	}
}
