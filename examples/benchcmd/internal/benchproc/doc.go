// Package benchproc holds what the scale benchmark commands share: the
// local control plane and a scratch directory, the controller commands
// built and run as processes of their own (each measured for its peak
// resident memory and a sampled peak of its anonymous part, as Flux's
// benchmark measures each controller's Deployment), the memory of the
// running process, a polling wait, the timing of `kubectl apply
// --server-side`, and the fleet table: measured rows, kept in a
// JSON-lines file across commands, printed next to the kubectl reference of
// the same run and to Flux v2.9's published MTTP benchmark.
package benchproc
