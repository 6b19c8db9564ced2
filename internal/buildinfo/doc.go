// Package buildinfo says which forewarn this is: the module version, the
// VCS revision, the build time and the Go version, read from the binary's
// own build information (debug.ReadBuildInfo) and what scripts/release
// stamps with -ldflags. It must never read the network or the store.
package buildinfo
