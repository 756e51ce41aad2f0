package l7

// HostOnlyForTest exposes hostOnly to the external tests.
var HostOnlyForTest = hostOnly
