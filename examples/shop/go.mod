module github.com/pilotage/pilotage/examples/shop

go 1.26.0

require github.com/pilotage/pilotage v0.0.0

require github.com/BurntSushi/toml v1.6.0 // indirect

replace github.com/pilotage/pilotage => ../..
