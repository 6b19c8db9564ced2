// Package indicator defines what forewarn stores and shows: an indicator (an
// IP address) with a status, its sources and its attributes, using the
// attribute names of the Seclytics integration guide. Values are typed
// (an address is a netip.Addr, an attribute a Value of a Kind): this is
// the read model the store hands out, and only the renderers at the edges
// turn it into text.
//
// It holds vocabulary and small pure functions only. It must never do I/O or
// know how a feed is fetched or where indicators are stored.
package indicator
