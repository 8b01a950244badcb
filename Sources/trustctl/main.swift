import TrustCore

print("trustctl")
