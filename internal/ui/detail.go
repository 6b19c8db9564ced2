package ui

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// detailData is an indicator's page: why it is listed first, then its
// attributes in groups, its neighbours and its status history.
type detailData struct {
	Ind      indicator.Indicator
	Statuses []indicator.Status
	// Summary is the one line that says why the address is bad:
	// "88 · High · malicious · predicted 169 days before detection".
	Summary string
	Tone    string
	Reason  string
	Groups  []attrGroup
	// Updated is when the attributes last changed.
	Updated    time.Time
	Netblock   netip.Prefix // invalid when unknown
	Neighbours []indicator.Indicator
	// NeighbourCount is how many indicators the netblock holds (the
	// page lists RelatedLimit), up to CountLimit.
	NeighbourCount  int64
	NeighbourCapped bool
	Cluster         string
	History         []store.AuditEntry
	// Pivots are the links to third-party pages about the address.
	Pivots []pivotLink
	// Reason and Status as typed, when a change was refused.
	Form statusForm
}

// pivotLink is one pivot, with the address in place.
type pivotLink struct{ Name, URL string }

// statusForm is the status change form as typed, with its errors.
type statusForm struct {
	Status, Reason string
	Errs           map[string]string
}

// attrGroup is a group of an indicator's attributes on its page.
type attrGroup struct {
	Name string
	Rows []attrRow
}

// attrGroups are the detail page's groups, in order: what the threat is,
// what Seclytics predicted, and when.
var attrGroups = []struct {
	name  string
	attrs []string
}{
	{"Threat", []string{indicator.AttrImportance, indicator.AttrNormalizedImportance, indicator.AttrDetectedCategories, indicator.AttrDetectedIdentifiers, indicator.AttrDetectedBy}},
	{"Prediction", []string{indicator.AttrPredictedCategory, indicator.AttrPredictedNetblock, indicator.AttrCluster}},
	{"Times", []string{indicator.AttrPredictedAt, indicator.AttrDetectedAt, indicator.AttrLastSeenAt}},
}

// groups sorts the attribute rows into attrGroups; an attribute of none
// goes to "Other".
func groups(rows []attrRow) []attrGroup {
	var out []attrGroup
	used := map[string]bool{}
	for _, g := range attrGroups {
		ag := attrGroup{Name: g.name}
		for _, name := range g.attrs {
			for _, r := range rows {
				if r.Name == name {
					ag.Rows = append(ag.Rows, r)
					used[name] = true
				}
			}
		}
		if len(ag.Rows) > 0 {
			out = append(out, ag)
		}
	}
	other := attrGroup{Name: "Other"}
	for _, r := range rows {
		if !used[r.Name] {
			other.Rows = append(other.Rows, r)
		}
	}
	if len(other.Rows) > 0 {
		out = append(out, other)
	}
	return out
}

// summary is the line first on an indicator's page.
func summary(ind indicator.Indicator) string {
	var parts []string
	if v := ind.Attr(indicator.AttrImportance); v.Kind != indicator.KindNone {
		parts = append(parts, valueText(time.UTC, v))
	}
	if v := ind.Attr(indicator.AttrNormalizedImportance); v.Kind != indicator.KindNone {
		parts = append(parts, valueText(time.UTC, v))
	}
	if v := ind.Attr(indicator.AttrDetectedCategories); v.Kind != indicator.KindNone {
		parts = append(parts, valueText(time.UTC, v))
	}
	p, okP := ind.Attr(indicator.AttrPredictedAt).AsTime()
	d, okD := ind.Attr(indicator.AttrDetectedAt).AsTime()
	if okP && okD {
		days := int64(d.Sub(p).Hours() / 24)
		switch {
		case days > 0:
			parts = append(parts, "predicted "+thousands(days)+" "+plural(days, "day", "days")+" before detection")
		case days == 0:
			parts = append(parts, "predicted the day it was detected")
		default:
			parts = append(parts, "detected "+thousands(-days)+" "+plural(-days, "day", "days")+" before the prediction")
		}
	}
	return strings.Join(parts, " · ")
}

func (u *UI) indicatorDetail(w http.ResponseWriter, r *http.Request, se *session) error {
	a, err := netip.ParseAddr(r.PathValue("ip"))
	if err != nil {
		u.fail(w, r, se, http.StatusBadRequest, "“"+r.PathValue("ip")+"” is not an IP address: search for it under Indicators instead.")
		return nil
	}
	ind, err := u.Store.Lookup(r.Context(), a.Unmap())
	if errors.Is(err, store.ErrNotFound) {
		ans, err := u.resolve(r.Context(), []netip.Addr{a})
		if err != nil {
			return err
		}
		u.fail(w, r, se, http.StatusNotFound, a.Unmap().String()+" is not an indicator in the store. "+ans[0].Reason)
		return nil
	}
	if err != nil {
		return err
	}
	v := view{Title: ind.Addr.String(), Nav: "indicators", Session: se}
	if r.URL.Query().Get("done") == "status" {
		v.Notice = "Status changed to " + string(ind.Status) + ". Later runs keep it."
	}
	return u.renderDetail(w, r, http.StatusOK, v, ind, statusForm{Status: string(ind.Status)})
}

func (u *UI) renderDetail(w http.ResponseWriter, r *http.Request, status int, v view, ind indicator.Indicator, f statusForm) error {
	d := detailData{Ind: ind, Statuses: statuses, Summary: summary(ind), Form: f, Cluster: ind.Attr(indicator.AttrCluster).String()}
	d.Tone, _, d.Reason = listedReason(&ind)
	rows := attrRows(v.Session.loc, ind)
	for _, row := range rows {
		if row.UpdatedAt.After(d.Updated) {
			d.Updated = row.UpdatedAt
		}
	}
	d.Groups = groups(rows)
	for _, p := range u.Pivots {
		d.Pivots = append(d.Pivots, pivotLink{Name: p.Name, URL: p.URL(ind.Addr)})
	}
	if err := u.neighbours(r.Context(), &d); err != nil {
		return err
	}
	hist, err := u.Store.SearchAudit(r.Context(), store.AuditQuery{Action: "indicator.status", Target: ind.Addr.String(), Limit: 50})
	if err != nil {
		return err
	}
	d.History = hist
	v.Data = d
	return u.render(w, status, "indicator", v)
}

// neighbours fills the netblock's other indicators (RelatedLimit of them)
// and how many there are.
func (u *UI) neighbours(ctx context.Context, d *detailData) error {
	nb, err := d.Ind.Want(indicator.AttrPredictedNetblock, indicator.KindCIDR)
	if err != nil {
		return err
	}
	d.Netblock, _ = nb.AsPrefix() // absent: invalid, looked up below
	if !d.Netblock.IsValid() {
		// Not selected as context: the lookup index knows it anyway.
		if res, err := u.Lookup.Lookup(ctx, d.Ind.Addr); err == nil && len(res.Netblocks) > 0 {
			d.Netblock = res.Netblocks[0].Netblock
		}
	}
	if !d.Netblock.IsValid() {
		return nil
	}
	q := store.IndicatorQuery{CIDR: d.Netblock, Limit: RelatedLimit + 1}
	page, err := u.Store.SearchIndicators(ctx, q)
	if err != nil {
		return err
	}
	for _, n := range page.Indicators {
		if n.Addr != d.Ind.Addr && len(d.Neighbours) < RelatedLimit {
			d.Neighbours = append(d.Neighbours, n)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, CountTimeout)
	defer cancel()
	if n, capped, err := u.Store.CountIndicators(cctx, q, CountLimit); err == nil {
		d.NeighbourCount, d.NeighbourCapped = n, capped
	}
	return nil
}

// setStatus changes the indicator's status with the person's reason; a
// refusal shows the page again with what was typed.
func (u *UI) setStatus(w http.ResponseWriter, r *http.Request, se *session) error {
	f := statusForm{Status: r.PostFormValue("status"), Reason: r.PostFormValue("reason"), Errs: map[string]string{}}
	inds, err := u.Service.ChangeStatus(r.Context(), se.actor(), service.StatusChange{Values: []string{r.PathValue("ip")}, Status: f.Status, Reason: f.Reason})
	var ve *service.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Fields {
			f.Errs[fe.Field] = fe.Msg
		}
		a, perr := netip.ParseAddr(r.PathValue("ip"))
		ind, lerr := u.Store.Lookup(r.Context(), a)
		if perr != nil || lerr != nil {
			u.fail(w, r, se, http.StatusBadRequest, "The status was not changed: "+ve.Error()+".")
			return nil
		}
		return u.renderDetail(w, r, http.StatusBadRequest, view{Title: ind.Addr.String(), Nav: "indicators", Session: se,
			Error: "The status was not changed: correct the fields marked below."}, ind, f)
	case errors.Is(err, store.ErrNotFound):
		u.fail(w, r, se, http.StatusNotFound, "The status was not changed: "+r.PathValue("ip")+" is not an indicator in the store.")
		return nil
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/indicators/"+inds[0].Addr.String()+"?done=status", http.StatusSeeOther)
	return nil
}

// bulkStatus changes the status of the indicators selected on a search
// page, with a reason, and goes back to the search.
func (u *UI) bulkStatus(w http.ResponseWriter, r *http.Request, se *session) error {
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/indicators?") {
		back = "/indicators"
	}
	inds, err := u.Service.ChangeStatus(r.Context(), se.actor(), service.StatusChange{Values: r.PostForm["values"], Status: r.PostFormValue("status"), Reason: r.PostFormValue("reason")})
	var ve *service.ValidationError
	switch {
	case errors.As(err, &ve):
		msgs := make([]string, len(ve.Fields))
		for i, fe := range ve.Fields {
			msgs[i] = fe.Msg
		}
		u.fail(w, r, se, http.StatusBadRequest, "No status was changed: "+strings.Join(msgs, "; ")+". Go back to the search, select the indicators and give a reason.")
		return nil
	case errors.Is(err, store.ErrNotFound):
		u.fail(w, r, se, http.StatusNotFound, "No status was changed: "+err.Error()+". Go back and run the search again.")
		return nil
	case err != nil:
		return err
	}
	sep := "&"
	if !strings.Contains(back, "?") {
		sep = "?"
	}
	n := strconv.Itoa(len(inds))
	http.Redirect(w, r, back+sep+"changed="+n+"&to="+url.QueryEscape(string(inds[0].Status))+"&sig="+se.sign("bulk", n, string(inds[0].Status)), http.StatusSeeOther)
	return nil
}
