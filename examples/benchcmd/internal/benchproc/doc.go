// Package benchproc holds what the scale benchmark commands share: the
// resident memory of the running process (its peak, and a sampled peak of
// its anonymous part), a polling wait, a count of the API requests made
// through a REST config, the timing of `kubectl apply --server-side`, and
// the fleet table: measured rows, kept in a JSON-lines file across
// commands, printed next to the kubectl reference of the same run and to
// Flux v2.9's published MTTP benchmark.
package benchproc
