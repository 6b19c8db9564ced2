package dumpgen

import "forewarn/internal/dump"

// Categories used for predicted_category and detected_categories, with the
// weights they are drawn with as a predicted category (spam and generic
// "malicious" dominate the real feed).
var categories = [...]struct {
	name, title string
	weight      int
}{
	{"malicious", "Malicious", 15},
	{"phishing", "Phishing", 7},
	{"botnet", "Botnet", 8},
	{"backscatter", "Backscatter", 5},
	{"spam", "Spam", 25},
	{"scanner", "Scanner", 14},
	{"bruteforce", "BruteForce", 12},
	{"tor", "TOR", 2},
	{"proxy", "Proxy", 3},
	{"malware", "Malware", 6},
	{"c2", "C2", 3},
}

// categoryByPercent maps a uniform draw in [0, 100) to a category index
// following the weights above.
var categoryByPercent = func() (t [100]uint8) {
	i := 0
	for c, cat := range categories {
		for range cat.weight {
			t[i] = uint8(c)
			i++
		}
	}
	if i != len(t) {
		panic("dumpgen: category weights must add up to 100")
	}
	return t
}()

// detectors are the sources that saw a predicted IP misbehave.
var detectors = [...]string{
	"uceptect_level1",             // 0
	"uceptect_level2",             // 1
	"uceptect_level3",             // 2
	"spamhaus_drop",               // 3
	"spamhaus_edrop",              // 4
	"spamhaus_xbl",                // 5
	"abuseipdb",                   // 6
	"blocklist_de",                // 7
	"dshield",                     // 8
	"emergingthreats_compromised", // 9
	"feodotracker",                // 10
	"sslbl",                       // 11
	"alienvault_otx",              // 12
	"greynoise",                   // 13
	"firehol_level1",              // 14
	"cinsscore",                   // 15
	"tor_exit_nodes",              // 16
	"phishtank",                   // 17
	"openphish",                   // 18
	"urlhaus",                     // 19
	"stopforumspam",               // 20
	"backscatterer_org",           // 21
	"threatfox",                   // 22
	"binarydefense",               // 23
}

// detectorsByCategory lists, per category index, the detectors likely to
// report an IP of that category; the first one is the most frequent.
var detectorsByCategory = [len(categories)][]uint8{
	{14, 12, 6, 23, 15, 3}, // malicious
	{17, 18, 19, 12},       // phishing
	{5, 9, 10, 6},          // botnet
	{21, 0},                // backscatter
	{1, 0, 2, 20, 5},       // spam
	{13, 8, 6, 15},         // scanner
	{7, 6, 8, 23},          // bruteforce
	{16, 12},               // tor
	{14, 20, 12},           // proxy
	{19, 22, 12, 11},       // malware
	{10, 11, 22, 4},        // c2
}

// identifiers are the detected_identifiers values; index 0 is the empty
// value, which most rows carry.
var identifiers = [...]string{
	"",
	"ssh-bruteforce;port-22",        // 1
	"rdp-bruteforce;port-3389",      // 2
	"ftp-bruteforce;port-21",        // 3
	"port-22",                       // 4
	"smtp-auth;port-587",            // 5
	"port-scan;port-23",             // 6
	"telnet;port-23",                // 7
	"port-445",                      // 8
	"mirai;port-23",                 // 9
	"port-scan;port-3389;port-5900", // 10
	"mirai",                         // 11
	"gafgyt",                        // 12
	"emotet",                        // 13
	"mozi;port-23",                  // 14
	"cobaltstrike;port-443",         // 15
	"qakbot;port-443",               // 16
	"trickbot;port-449",             // 17
	"sliver",                        // 18
	"agenttesla",                    // 19
	"asyncrat",                      // 20
	"redline",                       // 21
	"paypal",                        // 22
	"microsoft-365",                 // 23
	"apple-id",                      // 24
	"snowshoe",                      // 25
	"listed-rbl",                    // 26
	"tor-exit",                      // 27
	"tor-relay;port-9001",           // 28
	"open-proxy;port-3128",          // 29
	"socks5;port-1080",              // 30
	"port-8080",                     // 31
	"abuse-report",                  // 32
}

// identifiersByCategory lists, per category index, the identifiers an IP of
// that category may carry when it carries any.
var identifiersByCategory = [len(categories)][]uint8{
	{32},                 // malicious
	{22, 23, 24},         // phishing
	{11, 12, 13, 14},     // botnet
	{32},                 // backscatter
	{25, 26, 5},          // spam
	{6, 7, 8, 9, 10},     // scanner
	{1, 2, 3, 4, 5, 1},   // bruteforce
	{27, 28},             // tor
	{29, 30, 31},         // proxy
	{13, 19, 20, 21},     // malware
	{15, 16, 17, 18, 13}, // c2
}

// badValue is one kind of malformed row. A row with col >= 0 carries text in
// that column (json is the same value as it appears in an NDJSON object); a
// row with shape != 0 has the wrong number of fields instead.
type badValue struct {
	col   dump.Column
	text  string
	json  string
	shape int8 // 0: eleven fields; -1: one field missing; +1: one extra field
	inB   bool // an out-of-range importance of 70 or more still selects the row for B
}

// badKinds are the kinds of malformed rows, each with a few variants. Kinds
// are used round-robin so that even a small dump carries every kind.
var badKinds = [...][]badValue{
	{ // unparseable IP
		{col: dump.IP, text: "999.1.2.3", json: `"999.1.2.3"`},
		{col: dump.IP, text: "not-an-ip", json: `"not-an-ip"`},
		{col: dump.IP, text: "1.2.3", json: `"1.2.3"`},
		{col: dump.IP, text: "256.10.0.1", json: `"256.10.0.1"`},
	},
	{ // IPv4 with leading zeros, ambiguous (octal or decimal)
		{col: dump.IP, text: "010.1.2.3", json: `"010.1.2.3"`},
		{col: dump.IP, text: "192.168.001.010", json: `"192.168.001.010"`},
		{col: dump.IP, text: "08.8.8.8", json: `"08.8.8.8"`},
	},
	{ // IP with a zone
		{col: dump.IP, text: "fe80::1%eth0", json: `"fe80::1%eth0"`},
		{col: dump.IP, text: "fe80::a00:27ff:fe4e:66a1%en0", json: `"fe80::a00:27ff:fe4e:66a1%en0"`},
	},
	{ // importance out of range
		{col: dump.Importance, text: "101", json: `101`, inB: true},
		{col: dump.Importance, text: "-1", json: `-1`},
		{col: dump.Importance, text: "250", json: `250`, inB: true},
	},
	{ // importance not a number
		{col: dump.Importance, text: "high", json: `"high"`},
		{col: dump.Importance, text: "n/a", json: `"n/a"`},
	},
	{ // wrong number of fields
		{col: -1, shape: -1},
		{col: -1, shape: +1},
	},
	{ // unparseable date
		{col: dump.PredictedAt, text: "2018-06-31T02:03:48", json: `"2018-06-31T02:03:48"`},
		{col: dump.DetectedAt, text: "21/06/2018", json: `"21/06/2018"`},
		{col: dump.LastSeenAt, text: "yesterday", json: `"yesterday"`},
	},
	{ // invalid predicted netblock
		{col: dump.PredictedNetblock, text: "1.2.3.0/33", json: `"1.2.3.0/33"`},
		{col: dump.PredictedNetblock, text: "2001:db8::/129", json: `"2001:db8::/129"`},
		{col: dump.PredictedNetblock, text: "10.0.0.0/eight", json: `"10.0.0.0/eight"`},
	},
}

// ipv6Starts are the first 16 bits of the IPv6 prefixes predictions come
// from: the RIR allocations where most abusive IPv6 space lives.
var ipv6Starts = [...]uint16{
	0x2001, 0x2400, 0x2401, 0x2402, 0x2403, 0x2404, 0x2405, 0x2406,
	0x2407, 0x2408, 0x2409, 0x240e, 0x2600, 0x2601, 0x2602, 0x2603,
	0x2604, 0x2605, 0x2606, 0x2607, 0x2800, 0x2803, 0x2a00, 0x2a01,
	0x2a02, 0x2a03, 0x2a04, 0x2a05, 0x2a06, 0x2a0b, 0x2a10, 0x2c0f,
}

// ipv4Firsts are the first octets of public IPv4 space (0/8, 10/8, 127/8
// and 224/4 and above excluded).
var ipv4Firsts = func() []uint8 {
	var t []uint8
	for o := 1; o < 224; o++ {
		if o != 10 && o != 127 {
			t = append(t, uint8(o))
		}
	}
	return t
}()
