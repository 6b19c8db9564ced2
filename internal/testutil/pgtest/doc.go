// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema on the server named by FOREWARN_TEST_POSTGRES, dropped when the test
// ends, and says whether the backend matrix asks for PostgreSQL
// (FOREWARN_TEST_BACKEND=postgres).
package pgtest
