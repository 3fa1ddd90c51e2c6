package controllers

// PatchFinalizers lets the suite write a finalizer change from a read it
// made stale on purpose, which the running manager's cache cannot be made
// to serve on cue.
var PatchFinalizers = patchFinalizers
