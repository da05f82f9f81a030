module github.com/pilotage/pilotage/cmd/pilotage

go 1.26.0

require (
	github.com/pilotage/pilotage v0.0.0
	golang.org/x/tools v0.52.0
)

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
)

replace github.com/pilotage/pilotage => ../..
