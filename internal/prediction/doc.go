// Package prediction turns a raw dump record into a validated Seclytics
// prediction: a canonical IP address, typed dates, a masked netblock, a
// numeric importance and clean lists.
//
// It validates one row at a time and reports what it rejected or dropped. It
// must never filter, store or allocate per row on the hot path: the returned
// [Row] borrows the record's bytes and is valid until the next Parse.
package prediction
