from lrdoctor.cli import main

main(prog_name="lrdoctor")
