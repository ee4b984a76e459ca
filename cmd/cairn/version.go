package main

// version and commit name this build. The build may set them:
//
//	go build -ldflags "-X main.version=1.2.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/cairn
//
// Left empty, they come from the module's version and the vcs.revision that go build
// records in a git checkout.
var (
	version string
	commit  string
)
