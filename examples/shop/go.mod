module github.com/pilotage/pilotage/examples/shop

go 1.26

require github.com/pilotage/pilotage v0.0.0

replace github.com/pilotage/pilotage => ../..
