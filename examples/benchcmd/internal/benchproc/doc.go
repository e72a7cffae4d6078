// Package benchproc holds what the scale benchmark commands share: the
// peak resident memory of the running process and a polling wait.
package benchproc
