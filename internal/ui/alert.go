package ui

import (
	"net/http"
	"strings"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/store"
)

// feedAlert is a feed whose last real run failed: every page marks it
// (a badge in the navigation, a banner) until a run succeeds.
type feedAlert struct {
	RunID  int64
	Status string
	At     time.Time
	// Msg is the run's error in words for a web user.
	Msg string
}

// alertRuns is how many recent runs feedAlert reads to find the last real
// (not dry) run that ended.
const alertRuns = 10

// feedAlert returns the feed's alert, or nil when its last real run that
// ended did not fail. A failure to read says nothing: the page itself
// reads the store too and reports it.
func (u *UI) feedAlert(r *http.Request) *feedAlert {
	page, err := u.Store.ListRuns(r.Context(), store.RunQuery{Feed: u.Feed, Limit: alertRuns})
	if err != nil {
		return nil
	}
	for _, run := range page.Runs {
		if run.DryRun || run.Status == activity.StatusRunning {
			continue
		}
		if run.Status != activity.StatusFailed && run.Status != activity.StatusAbandoned {
			return nil
		}
		a := &feedAlert{RunID: run.ID, Status: string(run.Status), At: run.StartedAt, Msg: plainError(run.Error)}
		if run.FinishedAt != nil {
			a.At = *run.FinishedAt
		}
		if a.Msg == "" && run.Status == activity.StatusAbandoned {
			a.Msg = "The run stopped without finishing (its process ended): nothing it did was kept. Run the feed again."
		}
		return a
	}
	return nil
}

// webHints turn the command line's advice in a run's error into the web
// UI's: the run record is written once, for every edge, in the CLI's
// words.
var webHints = strings.NewReplacer(
	"put it in a file and pass --token-file FILE, set SECLYTICS_ACCESS_TOKEN, or store it with forewarn config seclytics --token-file FILE",
	"paste it into Access Token Key on the feed's Configuration tab and save",
	"(forewarn config seclytics --token-file FILE) or SECLYTICS_ACCESS_TOKEN",
	"(Access Token Key on the Configuration tab)",
	"or raise the tries setting", "or raise Download attempts on the Configuration tab",
)

// plainError is a run's error for a person using the web UI: the CLI's
// hints replaced, the first letter capitalised.
func plainError(msg string) string {
	msg = strings.TrimSpace(webHints.Replace(msg))
	if msg == "" {
		return ""
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}
