// Package notifytest has test doubles for code that reports events: an
// in-memory Recorder, and Server, an HTTP event server speaking Flux's
// protocol (what a notification-controller serves) that records what it
// receives, so a test can point an HTTPRecorder — or a real Flux
// controller — at it and check the events.
package notifytest
