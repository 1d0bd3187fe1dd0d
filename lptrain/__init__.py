"""Plumbing shared by every package of the repository: where things are, and how CLIs fail.

Nothing here knows about arithmetic; `golden`, `hdl_gen`, `verif`, `cosim`, `synth`, `fpga`,
`cost`, `formal` and `report` all import it, and it imports none of them.
"""
