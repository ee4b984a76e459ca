module cairn

go 1.26.8

require (
	github.com/klauspost/compress v1.18.0
	github.com/restic/chunker v0.4.0
	github.com/zeebo/blake3 v0.2.4
	golang.org/x/sync v0.10.0
)

require github.com/klauspost/cpuid/v2 v2.0.12 // indirect
