"""Development tools: corpus generators and the evaluation harness. Not installed with lrdoctor."""
