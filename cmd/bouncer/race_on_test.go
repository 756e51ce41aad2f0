//go:build race

package main

// raceEnabled says the test binary was built with -race, so the bouncer
// binary under test is built with it too.
const raceEnabled = true
