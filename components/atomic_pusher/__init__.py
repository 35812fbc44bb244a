"""AtomicPusher: TFX's Pusher, publishing a version only once it is whole."""
