// Package pivot holds the detail page's pivot links: an administrator's
// list of third-party pages about an address (a URL template such as
// https://www.shodan.io/host/{ip}), parsed and checked once at start.
//
// It must never supply links by default: a link sends the address to a
// third party, which only the administrator may choose. It does no I/O:
// the browser follows a link only when a person clicks it.
package pivot
