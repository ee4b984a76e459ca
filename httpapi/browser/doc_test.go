// Package browser drives cairn's dashboard in headless Chromium (Debian's chromium,
// which testdata/browser/setup.sh installs) against a real httpapi server on
// loopback, with a local repository folder and a local database. The tests skip
// when chromium is missing, and fail instead when CAIRN_BROWSER_REQUIRED=1 (make
// test sets it). Screenshots of each view, at desktop and phone width, go to the
// folder CAIRN_SCREENSHOTS names (make test: ./screenshots).
package browser
