"""AudioSocket (Asterisk ``app_audiosocket``): the wire format, a TCP server per call leg, a fake streamer."""
