// Package fakeseclytics is a stand-in for https://api.seclytics.com: an
// http.Handler serving the two Seclytics Predictions bulk dumps
// (seen-predictions-dump-a.json.gz and -dump-b.json.gz), generated with
// dumpgen, behind the same access-token check, with ETag and Last-Modified
// validators, and with hooks that inject the faults a real feed meets (error
// statuses, rate limits with Retry-After, connections cut mid-body, HTML
// error pages). The demo, the tests and the benchmarks use it so that none
// of them needs the real service or a real token.
//
// It must never be exposed beyond loopback: Run refuses any other address.
// It must never log or echo the access token it is given, and never reach
// out to the real Seclytics API.
package fakeseclytics
