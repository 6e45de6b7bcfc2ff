//! placeholder until the storage backends land
