
trips-1
e1