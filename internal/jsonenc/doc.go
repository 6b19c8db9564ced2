// Package jsonenc appends JSON strings and arrays of strings to byte
// slices, byte for byte as encoding/json writes them, and times in the
// layouts the exports write, as time's AppendFormat does, for the
// exports' hand-written encoders: one reused buffer per stream instead of
// reflection and an allocation or more per value. It writes text only;
// it never decides what a document contains or in which order.
package jsonenc
